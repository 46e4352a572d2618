<?xml version="1.0" encoding="UTF-8"?>
<!--
  XNachweis 1.2.0 evidence request (DE.EvidenceRequest.0101)
    → EU OOTS evidence request (OASIS RegRep 4 query:QueryRequest, OOTS-EDM 1.0,
      SDG generic metadata profile), e.g. for a German authority that asks an
      evidence provider in another member state.

  Mapping
    @id (urn:uuid)                         → QueryRequest/@id (a new id: $id)
    lang/code                              → QueryRequest/@xml:lang (upper case)
    IssueDateTime                          → Slot IssueDateTime ($now: the translation time)
    each EvidenceRequester (Identifier, Name, Address, Classification)
                                           → Slot EvidenceRequester / sdg:Agent
    EvidenceProvider (Identifier, Name, Classification) → Slot EvidenceProvider / sdg:Agent
    Query/RequestedEvidenceType            → Query Slot EvidenceRequest / sdg:DataServiceEvidenceType
    Query/LegalOrNaturalPerson/NaturalPerson → Query Slot NaturalPerson / sdg:Person
      (LevelOfAssurance, Identifier, FamilyName, GivenName, DateOfBirth, BirthName,
       PlaceOfBirth, CurrentAdress → CurrentAddress, Gender, SectorSpecificAttribute
       such as the assessment year)
    Query/AuthorizedRepresentative         → Query Slot AuthorizedRepresentative / sdg:Person
      (LevelOfAssurance, FamilyName, GivenName, DateOfBirth, PlaceOfBirth,
       CurrentAdress → CurrentAddress, Gender, SectorSpecificAttribute such as the
       power of representation)
    An address → sdg:AddressType in its order; one without AdminUnitLevel1 (the
    country, which sdg:AddressType requires) stops the mapping with a message.
    Gender → sdg:Gender, an eIDAS code (Male, Female, Unspecified); another value
    stops the mapping with a message.
  Not mapped, on purpose
    IDNr of the subject and of the representative (the German tax
    identification number has no meaning and no legal basis abroad),
    IssuedToken (a German NOOTS token), the XÖV header (the OOTS transport
    carries sender and receiver).
    EvidenceProvider/Address: an EDM 1.0 request names the provider by
    identifier and name (EU TDD rule R-EDM-REQ-S043); the address is the
    provider's own, and the request is routed by the identifier.
    An agent's AnyContent (XNachweis' slot for content of other namespaces):
    sdg:AgentType has no place for it.

  Parameters from the gateway's context: $now, $id.
  A legal person is not mapped: the mapping stops with a message naming the field.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:xn-de="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots"
    xmlns:xn-bk="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-baukasten"
    xmlns:xn-bdt="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-basisdatentypen"
    xmlns:xn-eu-edm="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-eu-edm"
    xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0"
    xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:4.0"
    xmlns:sdg="http://data.europa.eu/p4s"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    exclude-result-prefixes="xn-de xn-bk xn-bdt xn-eu-edm">

  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>

  <xsl:param name="now"/>
  <xsl:param name="id"/>

  <xsl:template match="/">
    <xsl:if test="not(xn-de:DE.EvidenceRequest.0101)">
      <xsl:message terminate="yes">root: expected xn-de:DE.EvidenceRequest.0101</xsl:message>
    </xsl:if>
    <xsl:apply-templates select="xn-de:DE.EvidenceRequest.0101"/>
  </xsl:template>

  <xsl:template match="xn-de:DE.EvidenceRequest.0101">
    <xsl:if test="not(xn-de:Query/xn-bk:LegalOrNaturalPerson/xn-bk:NaturalPerson)">
      <xsl:message terminate="yes">Query/LegalOrNaturalPerson/NaturalPerson: missing (this mapping covers natural persons only)</xsl:message>
    </xsl:if>
    <query:QueryRequest id="{$id}">
      <xsl:attribute name="xml:lang">
        <xsl:value-of select="translate(xn-de:lang/code, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')"/>
      </xsl:attribute>
      <rim:Slot name="SpecificationIdentifier">
        <rim:SlotValue xsi:type="rim:StringValueType">
          <rim:Value>oots-edm:v1.0</rim:Value>
        </rim:SlotValue>
      </rim:Slot>
      <rim:Slot name="IssueDateTime">
        <rim:SlotValue xsi:type="rim:DateTimeValueType">
          <rim:Value><xsl:value-of select="$now"/></rim:Value>
        </rim:SlotValue>
      </rim:Slot>
      <rim:Slot name="PossibilityForPreview">
        <rim:SlotValue xsi:type="rim:BooleanValueType">
          <rim:Value>false</rim:Value>
        </rim:SlotValue>
      </rim:Slot>
      <rim:Slot name="ExplicitRequestGiven">
        <rim:SlotValue xsi:type="rim:BooleanValueType">
          <rim:Value>true</rim:Value>
        </rim:SlotValue>
      </rim:Slot>
      <rim:Slot name="EvidenceRequester">
        <rim:SlotValue xsi:type="rim:CollectionValueType">
          <xsl:for-each select="xn-de:EvidenceRequester">
            <rim:Element xsi:type="rim:AnyValueType">
              <xsl:call-template name="agent">
                <xsl:with-param name="address" select="concat('EvidenceRequester[', position(), ']/Address')"/>
              </xsl:call-template>
            </rim:Element>
          </xsl:for-each>
        </rim:SlotValue>
      </rim:Slot>
      <rim:Slot name="EvidenceProvider">
        <rim:SlotValue xsi:type="rim:AnyValueType">
          <xsl:for-each select="xn-de:EvidenceProvider">
            <xsl:call-template name="agent"/>
          </xsl:for-each>
        </rim:SlotValue>
      </rim:Slot>
      <query:ResponseOption returnType="LeafClassWithRepositoryItem"/>
      <query:Query queryDefinition="DocumentQuery">
        <xsl:apply-templates select="xn-de:Query/xn-bk:LegalOrNaturalPerson/xn-bk:NaturalPerson"/>
        <xsl:apply-templates select="xn-de:Query/xn-bk:AuthorizedRepresentative"/>
        <xsl:apply-templates select="xn-de:Query/xn-bk:RequestedEvidenceType"/>
      </query:Query>
    </query:QueryRequest>
  </xsl:template>

  <!-- An XNachweis agent (AgentType_NOOTS) as an SDG agent; with its
       address where $address (the address's path, for messages) is given. -->
  <xsl:template name="agent">
    <xsl:param name="address"/>
    <sdg:Agent>
      <sdg:Identifier schemeID="{xn-bk:Identifier/@schemeID}"><xsl:value-of select="xn-bk:Identifier"/></sdg:Identifier>
      <xsl:for-each select="xn-bk:Name">
        <xsl:call-template name="multilingual">
          <xsl:with-param name="element" select="'sdg:Name'"/>
        </xsl:call-template>
      </xsl:for-each>
      <xsl:if test="$address">
        <xsl:for-each select="xn-eu-edm:Address">
          <xsl:call-template name="address">
            <xsl:with-param name="element" select="'sdg:Address'"/>
            <xsl:with-param name="path" select="$address"/>
          </xsl:call-template>
        </xsl:for-each>
      </xsl:if>
      <sdg:Classification><xsl:value-of select="xn-eu-edm:Classification/code"/></sdg:Classification>
    </sdg:Agent>
  </xsl:template>

  <!-- xn-bdt:String.Multilingual (value + lang code) as sdg:MultilingualStringType. -->
  <xsl:template name="multilingual">
    <xsl:param name="element"/>
    <xsl:element name="{$element}" namespace="http://data.europa.eu/p4s">
      <xsl:attribute name="lang">
        <xsl:value-of select="translate(xn-bdt:lang/code, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')"/>
      </xsl:attribute>
      <xsl:value-of select="xn-bdt:value"/>
    </xsl:element>
  </xsl:template>

  <xsl:template match="xn-bk:NaturalPerson">
    <rim:Slot name="NaturalPerson">
      <rim:SlotValue xsi:type="rim:AnyValueType">
        <xsl:call-template name="person">
          <xsl:with-param name="path" select="'Query/LegalOrNaturalPerson/NaturalPerson'"/>
        </xsl:call-template>
      </rim:SlotValue>
    </rim:Slot>
  </xsl:template>

  <!-- The person who asks on the subject's behalf (XNachweis
       AuthorizedPersonType: no identifier, no birth name). -->
  <xsl:template match="xn-bk:AuthorizedRepresentative">
    <rim:Slot name="AuthorizedRepresentative">
      <rim:SlotValue xsi:type="rim:AnyValueType">
        <xsl:call-template name="person">
          <xsl:with-param name="path" select="'Query/AuthorizedRepresentative'"/>
        </xsl:call-template>
      </rim:SlotValue>
    </rim:Slot>
  </xsl:template>

  <!-- An XNachweis person (the subject's PersonType, the representative's
       AuthorizedPersonType) as sdg:Person; $path names it in messages. -->
  <xsl:template name="person">
    <xsl:param name="path"/>
    <sdg:Person>
      <sdg:LevelOfAssurance><xsl:value-of select="xn-bk:LevelOfAssurance/code"/></sdg:LevelOfAssurance>
      <xsl:if test="xn-bk:Identifier">
        <sdg:Identifier schemeID="eidas"><xsl:value-of select="xn-bk:Identifier"/></sdg:Identifier>
      </xsl:if>
      <sdg:FamilyName><xsl:value-of select="xn-bk:FamilyName"/></sdg:FamilyName>
      <sdg:GivenName><xsl:value-of select="xn-bk:GivenName"/></sdg:GivenName>
      <sdg:DateOfBirth><xsl:value-of select="xn-bk:DateOfBirth"/></sdg:DateOfBirth>
      <xsl:for-each select="xn-bk:BirthName">
        <sdg:BirthName><xsl:value-of select="."/></sdg:BirthName>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:PlaceOfBirth">
        <sdg:PlaceOfBirth><xsl:value-of select="."/></sdg:PlaceOfBirth>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:CurrentAdress">
        <xsl:call-template name="address">
          <xsl:with-param name="element" select="'sdg:CurrentAddress'"/>
          <xsl:with-param name="path" select="concat($path, '/CurrentAdress')"/>
        </xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:Gender">
        <xsl:call-template name="gender">
          <xsl:with-param name="path" select="concat($path, '/Gender')"/>
        </xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:SectorSpecificAttribute">
        <sdg:SectorSpecificAttribute>
          <sdg:AttributeName><xsl:value-of select="xn-bk:AttributeName"/></sdg:AttributeName>
          <sdg:AttributeURI><xsl:value-of select="xn-bk:AttributeURI"/></sdg:AttributeURI>
          <sdg:AttributeValue><xsl:value-of select="xn-bk:AttributeValue"/></sdg:AttributeValue>
        </sdg:SectorSpecificAttribute>
      </xsl:for-each>
    </sdg:Person>
  </xsl:template>

  <!-- An XNachweis address (xn-bk:AddressType) as an SDG address
       (sdg:AddressType: its own element order, the country required). An
       address without a country stops the mapping: the gateway does not
       guess one, nor drop the address without saying so. -->
  <xsl:template name="address">
    <xsl:param name="element"/>
    <xsl:param name="path"/>
    <xsl:variable name="country" select="normalize-space(xn-bk:AdminUnitLevel1/code)"/>
    <xsl:if test="$country = ''">
      <xsl:message terminate="yes"><xsl:value-of select="$path"/>/AdminUnitLevel1: missing; an OOTS EDM address (sdg:AddressType) requires the country, and the mapping does not guess it</xsl:message>
    </xsl:if>
    <xsl:element name="{$element}" namespace="http://data.europa.eu/p4s">
      <xsl:for-each select="xn-bk:FullAddress">
        <sdg:FullAddress><xsl:value-of select="."/></sdg:FullAddress>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:LocatorDesignator">
        <sdg:LocatorDesignator><xsl:value-of select="."/></sdg:LocatorDesignator>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:PostCode">
        <sdg:PostCode><xsl:value-of select="."/></sdg:PostCode>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:PostCityName">
        <sdg:PostCityName><xsl:value-of select="."/></sdg:PostCityName>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:Thoroughfare">
        <sdg:Thoroughfare><xsl:value-of select="."/></sdg:Thoroughfare>
      </xsl:for-each>
      <sdg:AdminUnitLevel1><xsl:value-of select="$country"/></sdg:AdminUnitLevel1>
      <xsl:for-each select="xn-bk:AdminUnitLevel2">
        <sdg:AdminUnitLevel2><xsl:value-of select="normalize-space(code)"/></sdg:AdminUnitLevel2>
      </xsl:for-each>
    </xsl:element>
  </xsl:template>

  <!-- XNachweis Gender (free text) as sdg:Gender, which admits the eIDAS
       codes only. Another value stops the mapping (without repeating it:
       error texts carry no personal data). -->
  <xsl:template name="gender">
    <xsl:param name="path"/>
    <xsl:variable name="gender" select="normalize-space(.)"/>
    <xsl:if test="not($gender = 'Male' or $gender = 'Female' or $gender = 'Unspecified')">
      <xsl:message terminate="yes"><xsl:value-of select="$path"/>: not an eIDAS gender code (Male, Female, Unspecified), the only values sdg:Gender admits</xsl:message>
    </xsl:if>
    <sdg:Gender><xsl:value-of select="$gender"/></sdg:Gender>
  </xsl:template>

  <xsl:template match="xn-bk:RequestedEvidenceType">
    <rim:Slot name="EvidenceRequest">
      <rim:SlotValue xsi:type="rim:AnyValueType">
        <sdg:DataServiceEvidenceType>
          <sdg:Identifier><xsl:value-of select="xn-bk:Identifier"/></sdg:Identifier>
          <sdg:EvidenceTypeClassification><xsl:value-of select="xn-bk:EvidenceTypeClassification"/></sdg:EvidenceTypeClassification>
          <xsl:for-each select="xn-bk:Title">
            <xsl:call-template name="multilingual">
              <xsl:with-param name="element" select="'sdg:Title'"/>
            </xsl:call-template>
          </xsl:for-each>
          <xsl:for-each select="xn-bk:Description">
            <xsl:call-template name="multilingual">
              <xsl:with-param name="element" select="'sdg:Description'"/>
            </xsl:call-template>
          </xsl:for-each>
          <sdg:DistributedAs>
            <sdg:Format><xsl:value-of select="xn-bk:DistributedAs/xn-bk:Format/code"/></sdg:Format>
            <xsl:for-each select="xn-bk:DistributedAs/xn-bk:ConformsTo">
              <sdg:ConformsTo><xsl:value-of select="."/></sdg:ConformsTo>
            </xsl:for-each>
            <xsl:for-each select="xn-bk:DistributedAs/xn-bk:Transformation">
              <sdg:Transformation><xsl:value-of select="."/></sdg:Transformation>
            </xsl:for-each>
          </sdg:DistributedAs>
        </sdg:DataServiceEvidenceType>
      </rim:SlotValue>
    </rim:Slot>
  </xsl:template>
</xsl:stylesheet>
